/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include "regsweep/detmath.h"
static uint32_t b(float x){uint32_t u;memcpy(&u,&x,4);return u;}
static float fb(uint32_t u){float x;memcpy(&x,&u,4);return x;}
static int64_t ord(float f){uint32_t u=b(f);return (u&0x80000000u)?-(int64_t)(u&0x7fffffffu):(int64_t)u;}
static float r_exp(float x){return (float)exp(x);}
static float r_log(float x){return (float)log(x);}
static float r_sin(float x){return (float)sin(x);}
static float r_cos(float x){return (float)cos(x);}
static float r_tanh(float x){return (float)tanh(x);}
static float r_sig(float x){return (float)(1.0/(1.0+exp(-(double)x)));}
int main(int argc,char**argv){
  uint64_t stride=argc>1?strtoull(argv[1],0,0):97;
  struct {const char*n; float(*f)(float); float(*r)(float);} t[]={{"exp",rs_expf,r_exp},{"log",rs_logf,r_log},{"sin",rs_sinf,r_sin},{"cos",rs_cosf,r_cos},{"tanh",rs_tanhf,r_tanh},{"sigmoid",rs_sigmoidf,r_sig}};
  for(int k=0;k<6;k++){ if(argc>2 && strcmp(argv[2],t[k].n)) continue;
    uint64_t n=0,bad=0; int64_t mx=0; float wx=0;
    for(uint64_t u=0;u<(1ull<<32);u+=stride){float x=fb((uint32_t)u); if(x!=x) continue;
      float a=t[k].f(x), r=t[k].r(x); n++;
      if(a!=a||r!=r){ if(!(a!=a&&r!=r)){bad++; mx=1<<30; wx=x;} continue;}
      int64_t d=llabs(ord(a)-ord(r)); if(d){bad++; if(d>mx){mx=d;wx=x;}}}
    printf("%-8s n=%llu maxulp=%lld notCR=%llu (%.3g) worst x=%a\n",t[k].n,(unsigned long long)n,(long long)mx,(unsigned long long)bad,(double)bad/n,wx);}
}
