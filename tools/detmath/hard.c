/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
/* smallest |x - k*pi/2| over positive floats >= pi/4, by exponent group */
int main(void){
  double best[8]; uint32_t bu[8]; for(int i=0;i<8;i++){best[i]=1;bu[i]=0;}
  for(uint32_t u=0x3f490fdbu; u<0x7f800000u; u++){ float x; memcpy(&x,&u,4);
    double s=fabs(sin((double)x)), c=fabs(cos((double)x)); double m=s<c?s:c;
    if(m<best[7]){ int i=7; while(i>0&&best[i-1]>m){best[i]=best[i-1];bu[i]=bu[i-1];i--;} best[i]=m; bu[i]=u; } }
  for(int i=0;i<8;i++){float x; memcpy(&x,&bu[i],4); printf("0x%08x %a |r|=%a\n",bu[i],x,best[i]);}
}
