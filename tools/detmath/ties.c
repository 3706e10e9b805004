/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
double g_last; int g_set;
static inline float rec_f(double v){ g_last = v; g_set = 1; return (float)v; }
#include "det_rec.c"
/* For each input whose result goes through a double -> float rounding, the
 * distance of the double to the nearest float rounding boundary, in double ulps. */
#define TOP 12
int main(int argc, char **argv){
  struct {const char*n; float(*f)(float);} t[]={{"exp",rs_expf},{"log",rs_logf},{"sin",rs_sinf},{"cos",rs_cosf},{"tanh",rs_tanhf},{"sigmoid",rs_sigmoidf}};
  int only = argc > 1 ? atoi(argv[1]) : -1;
  for(int k=0;k<6;k++){ if(only>=0 && k!=only) continue;
    double best[TOP]; uint32_t bu[TOP]; for(int i=0;i<TOP;i++){best[i]=1e300;bu[i]=0;}
    uint64_t within[4]={0,0,0,0}; /* dist < 1, 4, 16, 64 */
    for(uint64_t u=0; u<(1ull<<32); u++){ uint32_t ub=(uint32_t)u; float x; memcpy(&x,&ub,4); if(x!=x) continue;
      g_set=0; t[k].f(x); if(!g_set) continue; double y=g_last; if(!isfinite(y)||y==0) continue;
      float f=(float)y; if(!isfinite(f)) continue;
      double ay=fabs(y); float af=fabsf(f);
      double mhi=((double)af+(double)nextafterf(af,INFINITY))/2, mlo=((double)af+(double)nextafterf(af,0))/2;
      double d=fmin(fabs(ay-mhi),fabs(ay-mlo)); int e; frexp(ay,&e); double ulp=ldexp(1.0,e-53); if(ulp<0x1p-1074) ulp=0x1p-1074;
      double du=d/ulp;
      if(du<1)within[0]++; if(du<4)within[1]++; if(du<16)within[2]++; if(du<64)within[3]++;
      if(du<best[TOP-1]){int i=TOP-1; while(i>0&&best[i-1]>du){best[i]=best[i-1];bu[i]=bu[i-1];i--;} best[i]=du; bu[i]=ub;}
      if(du<16){uint32_t rb; float r=(float)y; memcpy(&rb,&r,4); printf("NEAR %s 0x%08X 0x%08X %.3f\n",t[k].n,ub,rb,du);}
    }
    printf("%s: within <1 ulp: %llu, <4: %llu, <16: %llu, <64: %llu\n",t[k].n,(unsigned long long)within[0],(unsigned long long)within[1],(unsigned long long)within[2],(unsigned long long)within[3]);
    for(int i=0;i<TOP;i++){float x; memcpy(&x,&bu[i],4); g_set=0; float r=t[k].f(x); uint32_t rb; memcpy(&rb,&r,4); printf("  %s 0x%08X %a -> %a (0x%08X) dist %.3f dulp\n",t[k].n,bu[i],(double)x,g_last,rb,best[i]);}
    fflush(stdout);
  }
}
